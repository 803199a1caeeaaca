"""Authentication and authorization of the LimiQuantix API.

``keys`` (the JWT signing key file), ``credentials`` (argon2 password hashes and API token
digests in the ``lq_credentials`` bucket), ``jwts`` (access and refresh tokens),
``limiter`` (brute-force lockout), ``service`` (login, refresh, logout, who is calling and
what they may do, the first admin) and ``middleware`` (enforces every route's declared
permission). docs/security.md describes the whole design.
"""
