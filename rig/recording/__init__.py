"""The one recording format: the durable writer and the readers (StepPlate recordings and
any CSV whose header names its columns with units). See docs/recording-format.md.
"""
