"""Gradio web demo for longcat-i2v: image + prompt → video, with progress, cancel and a per-device queue.

``demo.app.build_demo`` builds the page; ``app.py`` at the repository root parses arguments and serves it.
"""
