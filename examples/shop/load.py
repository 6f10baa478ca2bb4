"""Sends a steady mix of requests to the demo shop until interrupted (or for --seconds)."""
import argparse
import json
import random
import threading
import time
import urllib.error
import urllib.request


def hit(base: str, stop: threading.Event) -> None:
    while not stop.is_set():
        r = random.random()
        try:
            if r < 0.5:
                urllib.request.urlopen(f"{base}/items/{random.randint(1, 55)}", timeout=5).read()
            elif r < 0.7:
                urllib.request.urlopen(f"{base}/items?limit=5", timeout=5).read()
            elif r < 0.85:
                body = {"items": [random.randint(1, 50) for _ in range(3)]}
                if random.random() < 0.3:
                    body["coupon"] = random.choice(["WELCOME10", "SPRING20", "BOGUS"])
                req = urllib.request.Request(f"{base}/orders", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
                urllib.request.urlopen(req, timeout=5).read()
            elif r < 0.92:
                urllib.request.urlopen(f"{base}/reports/daily", timeout=5).read()
            else:
                urllib.request.urlopen(f"{base}/health", timeout=5).read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(random.uniform(0.05, 0.25))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--base", default="http://127.0.0.1:8000")
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--seconds", type=float, default=0, help="stop after this long (0: run until interrupted)")
    a = p.parse_args()
    stop = threading.Event()
    threads = [threading.Thread(target=hit, args=(a.base, stop), daemon=True) for _ in range(a.workers)]
    for t in threads:
        t.start()
    try:
        if a.seconds:
            time.sleep(a.seconds)
        else:
            while True:
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    stop.set()


if __name__ == "__main__":
    main()
