"""The Flask app factory that receives Discourse webhooks: verify, parse, dedupe, enqueue, health and metrics."""
