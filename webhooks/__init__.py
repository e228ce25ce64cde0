"""Push: the receiver (`serve`) that commits verified WHOOP webhooks and Withings notifications."""
