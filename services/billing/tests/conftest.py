from billing_kit import billing, psp_process, stripe_process, stripe_sim

__all__ = ["billing", "psp_process", "stripe_process", "stripe_sim"]
