"""Contracts: identity and canonical form, summaries, standing policies, provenance,
the release decision and the lifecycle (propose, approve, reject, revoke)."""
