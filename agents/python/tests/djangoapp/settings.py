"""The smallest Django project the agent's tests need."""

SECRET_KEY = "routelens-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
ROOT_URLCONF = "djangoapp.urls"
INSTALLED_APPS = []
MIDDLEWARE = ["djangoapp.middleware.tag_response"]
DATABASES = {}
USE_TZ = True
LOGGING_CONFIG = None
