"""Loading, checking and (offline) standing in for the YAMNet audio model."""
