"""ServingModelValidator: checks a model as TF Serving would run it."""
