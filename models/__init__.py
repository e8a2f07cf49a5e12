"""Module files run by Transform (`preprocessing`) and Trainer (`model`)."""
