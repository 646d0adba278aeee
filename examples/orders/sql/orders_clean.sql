-- One line per order id (the feed repeats some), a known positive amount, a live status,
-- a known customer, and nothing after the run date.
WITH deduplicated AS (
  SELECT *, row_number() OVER (PARTITION BY order_id ORDER BY order_id) AS copy
  FROM orders_raw
)
SELECT d.order_id, d.customer_id, d.order_date, d.amount, d.status
FROM deduplicated d
JOIN customers c ON c.customer_id = d.customer_id
WHERE d.copy = 1
  AND d.amount IS NOT NULL
  AND d.amount > 0
  AND d.status IN ('COMPLETED', 'SHIPPED')
  AND d.order_date <= :run_date
