"""The clausewise web UI: `from ui.app import build_app, serve` (importing ui.app imports gradio)."""

__all__ = ["build_app", "serve"]


def __getattr__(name: str):
    if name in __all__:
        from ui import app

        return getattr(app, name)
    raise AttributeError(name)
