"""Alerting: rules over metrics and events, the alert lifecycle as events, notifications."""
