"""The Gradio chat page (issue #4; not built yet)."""
