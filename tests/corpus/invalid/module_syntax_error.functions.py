def fraud_model(train:
    return 1
