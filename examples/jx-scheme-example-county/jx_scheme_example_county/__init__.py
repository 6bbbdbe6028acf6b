"""An example third-party jx scheme pack: a county bureau's eight branch offices (plans 2011-2012).

``pack`` registers the pack and prepares its demo data; ``rules`` adds the pack's own rule,
``efficacy_coefficient``. Nothing in jx's core was changed to add either.
"""
