"""HTTP only, for WHOOP v2 and Withings: requests, paging, retries, rate limits, OAuth2 and the providers' errors."""
