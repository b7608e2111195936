"""One module per tool tab."""
