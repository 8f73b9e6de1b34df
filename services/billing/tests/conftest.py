from billing_kit import billing, stripe_process, stripe_sim

__all__ = ["billing", "stripe_process", "stripe_sim"]
