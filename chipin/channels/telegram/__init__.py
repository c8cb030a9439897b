"""The Telegram channel: update normalisation, the Bot API adapter, rate limits, long polling.

The webhook route lives in ``chipin.webhooks.telegram``; both it and the polling loop turn
updates into inbox rows through :func:`chipin.channels.telegram.normalize.normalize`.
"""
