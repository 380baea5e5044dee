"""Retry policies, budgets and breakers, the retry loop, and the requests, httpx and aiohttp
integrations."""
