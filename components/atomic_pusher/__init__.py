"""AtomicPusher: TFX's Pusher whose new versions appear whole or not at all."""
