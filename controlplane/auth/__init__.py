"""Authentication and authorization of the LimiQuantix API.

``keys`` (the JWT signing key file), ``credentials`` (argon2 password hashes and API token
digests in the ``lq_credentials`` bucket), ``jwts`` (access and refresh tokens),
``limiter`` (brute-force lockout, shared by the replicas in ``lq_login_failures``),
``service`` (login, refresh, logout, who is calling and what they may do, the first
admin), ``middleware`` (enforces every route's declared permission), ``scope`` (the
clusters a request touches, for cluster-scoped bindings) and ``join_tokens`` (one-time
host join tokens, spent at enrolment). docs/security.md describes the whole design.
"""
