"""Domain rules. Functions take keyword-only arguments, the acting user and `today`."""
