"""YamnetEmbeddingGen: clip Examples -> per-patch YAMNet embedding Examples."""
