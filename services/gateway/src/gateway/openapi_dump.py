"""Write the gateway's OpenAPI document to services/gateway/openapi.json, where the web app's REST types
are generated from; ``--check`` exits 1 when the committed file is stale (make check-gen)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.app import build
from gateway.config import Settings

TARGET = Path(__file__).resolve().parents[2] / "openapi.json"


def document() -> str:
    app = build(Settings(frontend_dist=Path("/nonexistent")))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = document()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET} is stale: run `make gen`", file=sys.stderr)
            sys.exit(1)
        print("the gateway's OpenAPI document is up to date")
        return
    TARGET.write_text(text)
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
