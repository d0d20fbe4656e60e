"""`python -m ui [--host H] [--port P]`: serve the web UI with the settings from env / clausewise.toml."""

from __future__ import annotations

import argparse

import clausewise.offline  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ui", description=__doc__)
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 7860)")
    parser.add_argument("--data-dir", help="store location")
    args = parser.parse_args(argv)
    from clausewise.settings import load_settings
    from ui.app import serve

    serve(load_settings(host=args.host, port=args.port, data_dir=args.data_dir))


if __name__ == "__main__":
    main()
