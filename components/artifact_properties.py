"""Custom properties the pipeline records on its artifacts, named once.

The components write them and the run summary, the report and
cross-validation read them back from MLMD, all through these names.
"""

# Esc50ExampleGen's examples: clips the dataset listed for the chosen classes,
# and those it could not decode.
CLIPS_LISTED = 'clips_listed'
CLIPS_QUARANTINED = 'clips_quarantined'
# JSON: the classes chosen (`--classes all` resolved), the dataset (root,
# layouts, files ignored) and the spans read ([{span, root, fingerprint}]).
CLASSES = 'classes'
DATASET = 'dataset'
SPANS = 'spans'
# JSON {span: clips} each span's records hold, and the count of clips whose
# records were copied from an earlier run (components/span_reuse.py).
SPAN_CLIPS = 'span_clips'
CLIPS_REUSED = 'clips_reused'
# YamnetEmbeddingGen's table: the clip table's entries with the YAMNet
# fingerprint (JSON), named apart so that each component finds its own.
EMBEDDED_SPANS = 'embedded_spans'
# YamnetEmbeddingGen's embeddings: clips embedded and their patches (and
# CLIPS_QUARANTINED: clips YAMNet failed on), and which YAMNet made them.
CLIPS_EMBEDDED = 'clips_embedded'
PATCHES = 'patches'
YAMNET_HANDLE = 'yamnet_handle'
YAMNET_FINGERPRINT = 'yamnet_fingerprint'
# How many times Beam's workers loaded YAMNet: once per worker process that
# embedded, however many threads or bundles it ran.
YAMNET_LOADS = 'yamnet_loads'
# Blessings (TFX's ModelBlessing, ServingModelValidator's InfraBlessing):
# 0 or 1, and ServingModelValidator's reason in words.
BLESSED = 'blessed'
REASON = 'reason'
# What TFX's Pusher (and AtomicPusher) records on the PushedModel.
PUSHED = 'pushed'
PUSHED_DESTINATION = 'pushed_destination'
# AtomicPusher's PushedModel: JSON list of the TFLite variants' checks
# (serving/tflite_check.Check), pushed or withheld.
TFLITE = 'tflite'
