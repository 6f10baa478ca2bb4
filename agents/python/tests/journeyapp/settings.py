"""The third service of a three-service journey (Django), with a SQLite database the view queries."""

import os
import tempfile

SECRET_KEY = "routelens-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
ROOT_URLCONF = "journeyapp.urls"
INSTALLED_APPS = []
MIDDLEWARE = []
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("JOURNEY_DB") or os.path.join(tempfile.gettempdir(), "routelens-journey-%d.sqlite3" % os.getpid()),
    }
}
USE_TZ = True
LOGGING_CONFIG = None
