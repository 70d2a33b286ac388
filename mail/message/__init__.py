"""Provides decoding one RFC 822 message into a NewMessage: headers, addresses, body text, quotes."""
