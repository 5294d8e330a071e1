"""LTI 1.3: OIDC login, launch validation, tool keys, registration (manual and dynamic), deep linking."""
