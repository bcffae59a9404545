"""The gateway: Fiks Kjøretøyregister's API, authorized like Fiks and passed through to SVV."""
