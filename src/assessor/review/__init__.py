"""The jury's review: decisions on top of the machine's report, accounts, and the audit log.

``domain`` holds the contract, ``store`` the database, ``auth`` the users file.
"""
