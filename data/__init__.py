"""ESC-50 data: class catalogue, audio decoding, downloader and synthetic generator."""
