"""The inspector review web app: queues, calls with audio, verdicts and calibration.

Reads the warehouse (never writes it) and keeps what inspectors write in an SQL
database. Entry points: :func:`review.app.create_app`, :func:`review.app.serve`,
:func:`review.calibration.calibration_report`, :func:`review.auth.hash_password`.
"""
