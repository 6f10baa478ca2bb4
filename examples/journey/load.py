"""Steady traffic for the journey demo's gateway until interrupted (or for --seconds)."""
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
            if r < 0.45:
                items = random.sample(range(1, 40), random.randint(5, 8))
                req = urllib.request.Request(f"{base}/checkout", data=json.dumps({"items": items}).encode(), headers={"Content-Type": "application/json", "Authorization": f"Bearer demo-{random.randint(1, 50)}"})
                urllib.request.urlopen(req, timeout=10).read()
            elif r < 0.8:
                urllib.request.urlopen(f"{base}/items/{random.randint(1, 45)}", timeout=10).read()
            elif r < 0.95:
                urllib.request.urlopen(f"{base}/recommendations", timeout=10).read()
            else:
                urllib.request.urlopen(f"{base}/health", timeout=10).read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(random.uniform(0.1, 0.3))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--base", default="http://127.0.0.1:8100")
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--seconds", type=float, default=0)
    a = p.parse_args()
    stop = threading.Event()
    for _ in range(a.workers):
        threading.Thread(target=hit, args=(a.base, stop), daemon=True).start()
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
