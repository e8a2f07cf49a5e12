"""ValidationGate: stops the run before training when data validation fails."""
