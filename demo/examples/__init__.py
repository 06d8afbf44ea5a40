"""Example pictures drawn by make_examples.py, with their prompts in examples.json."""
