"""What a contract means, as pure functions over the IR and facts: identity and canonical form,
the owner's summary, standing policies, provenance, condition evaluation, statuses and the
release decision. Imports the language (`datastation.dsl`) and the stdlib, never the escrow."""
