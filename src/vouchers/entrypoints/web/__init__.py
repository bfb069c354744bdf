"""The web pages: the staff console (``/console``), the customer portal (``/portal``) and
the redemption page a printed card's QR code opens (``/redeem``).

Server-rendered Jinja2 templates with htmx for partial updates and one small stylesheet;
no single-page build. Pages call the same services as the API and the CLI; every main
action is a plain HTML form, so it works without JavaScript.
"""
