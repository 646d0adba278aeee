insert overwrite sales select * from raw where day = :run_date
