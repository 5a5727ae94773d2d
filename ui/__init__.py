"""The Gradio chat page: `python -m ui`, or `ui.app.build_demo(service)`."""
