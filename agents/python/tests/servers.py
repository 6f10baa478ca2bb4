"""Real PostgreSQL and Redis servers for the client-span tests, each on a private port and directory.

PostgreSQL refuses to run as root: initdb and the server run as the `postgres` user (setpriv),
with the data directory and the unix socket directory in a fresh temporary directory. Both
servers are stopped by their process id.
"""

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen on %d" % port)


def postgres_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return os.path.dirname(found[-1]) if found else None


class Postgres:
    """`with Postgres() as pg:` a running server; pg.dsn, pg.port, pg.socket_dir, pg.database."""

    user = "postgres"
    database = "postgres"

    def __init__(self):
        self.bindir = postgres_bin()
        self.port = None
        self.proc = None
        self.tmp = None

    @staticmethod
    def missing():
        """Why the tests cannot run, or None."""
        if postgres_bin() is None:
            return "PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin/postgres)"
        if shutil.which("setpriv") is None:
            return "setpriv not installed"
        return None

    def _as_postgres(self):
        if os.geteuid() == 0:
            return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        return []

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="routelens-pg-")
        os.chmod(self.tmp, 0o755)
        data = os.path.join(self.tmp, "data")
        self.socket_dir = os.path.join(self.tmp, "sock")
        os.mkdir(data)
        os.mkdir(self.socket_dir)
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        subprocess.run(self._as_postgres() + [os.path.join(self.bindir, "initdb"), "-D", data, "-U", self.user,
                                              "-A", "trust", "--no-sync", "-E", "UTF8"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.port = free_port()
        self.proc = subprocess.Popen(
            self._as_postgres() + [os.path.join(self.bindir, "postgres"), "-D", data, "-p", str(self.port),
                                   "-k", self.socket_dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                                   "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_port(self.port, self.proc)
            # Listening is not accepting: wait until a query works.
            deadline = time.monotonic() + 30
            while True:
                probe = subprocess.run([os.path.join(self.bindir, "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                                        "-U", self.user, "-c", "select 1", self.database],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if probe.returncode == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        except Exception:
            self.__exit__()
            raise
        return self

    @property
    def dsn(self):
        return "host=127.0.0.1 port=%d user=%s dbname=%s" % (self.port, self.user, self.database)

    @property
    def url(self):
        return "postgresql://%s@127.0.0.1:%d/%s" % (self.user, self.port, self.database)

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            # SIGINT: PostgreSQL's fast shutdown.
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


class Redis:
    """`with Redis() as r:` a running redis-server on r.port, no persistence."""

    def __init__(self):
        self.port = None
        self.proc = None

    @staticmethod
    def missing():
        if shutil.which("redis-server") is None:
            return "redis-server not installed"
        return None

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="routelens-redis-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.tmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_port(self.port, self.proc)
        except Exception:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        shutil.rmtree(self.tmp, ignore_errors=True)
