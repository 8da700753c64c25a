"""`basketpay demo`: start the stack and drive a realistic batch of payments through the HTTP API."""
