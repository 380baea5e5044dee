"""Every example in docs/ runs, and every Markdown file renders as written."""
