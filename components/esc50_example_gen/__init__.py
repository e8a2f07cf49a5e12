"""ExampleGen for the ESC-50 layout: one clip Example per CSV row, split by fold."""
