"""Feature names shared by the Transform and Trainer module files."""

EMBEDDING = 'embedding'
LABEL = 'label'
CLIP_ID = 'clip_id'
FOLD = 'fold'
# Vocabulary of class names, computed by Transform on the training folds.
LABEL_VOCABULARY = 'label_vocabulary'
EMBEDDING_SIZE = 1024
