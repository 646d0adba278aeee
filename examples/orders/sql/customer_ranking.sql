-- Customers ranked by spend within their country; ties broken by customer id so the
-- ranking is the same on every run.
SELECT country, customer_id, total, orders,
       rank() OVER (PARTITION BY country ORDER BY total DESC, customer_id) AS rank
FROM customer_totals
