"""Watchers: one long-lived task per camera, from stream to stored events."""
