"""Certificates of participation: issued once a learner completed the course, a PDF to download, and a public
page where anyone can check a verification code (showing no more than the certificate itself)."""
