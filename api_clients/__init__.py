"""HTTP clients for WHOOP v2 and Withings: paging, retries, rate limits and OAuth2 refresh."""
