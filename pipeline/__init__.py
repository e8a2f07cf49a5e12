"""Pipeline definition, runners and the `yamnet-pipeline` command line."""
