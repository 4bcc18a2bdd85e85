"""Keras model builders, their conversion to Estimators, and SavedModel export."""
